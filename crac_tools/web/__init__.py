"""The on-line field catalog: browse, plot, report, download with conversion, embargo until a release date.

``crac serve`` runs :func:`crac_tools.web.app.create_app`; ``crac publish DIR`` writes the static public mirror
(:func:`crac_tools.web.publish.publish`). Every request is decided by one function,
:func:`crac_tools.web.policy.allowed`.

Examples
--------
>>> from crac_tools.web.policy import allowed  # doctest: +SKIP
"""
