"""Hand-written training data that ``harmwatch.model.augmentation`` turns into rows."""
