"""One module per benchmark section, each with ``run(options) -> dict`` (the section's JSON record).

Kept free of imports so ``python -m bench.sections.serving_probe`` starts without loading the others.
"""
