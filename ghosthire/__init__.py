"""ghosthire: detections for fraudulent remote IT workers, written once as Sigma."""

__version__ = "0.1.0"
