"""harmwatch: retraining platform for harmful-content classifiers."""
