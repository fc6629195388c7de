"""Reports for auditors: an artifact's lineage and decision, or a period's ledger activity, as PDF.

Modules: ``model`` (an artifact's report as data, from its lineage and
decision), ``activity`` (a period's runs and promotions), ``views`` (the
values templates see), ``graph`` (the lineage laid out and drawn as SVG),
``stamp`` (the report's time, from the ledger, never the clock) and ``render``
(Jinja2 templates in ``templates/``, WeasyPrint). Nothing here is imported
until ``auditpipe report`` runs: WeasyPrint, Jinja2 and grandalf load there.
"""
