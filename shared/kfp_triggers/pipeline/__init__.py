"""Pipeline-side helpers: what a pipeline author imports when writing a KFP pipeline.

The engine never imports this package. Its modules import kfp themselves (the package itself
imports nothing), so the stages stay free of kfp and pipelines get KFP's own mechanisms.
"""
