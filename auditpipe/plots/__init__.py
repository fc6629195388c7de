"""Plots a pipeline declares: data files, Vega-Lite specs from DVC templates, rendering."""
