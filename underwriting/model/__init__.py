"""The PD model: artifact, binning, scoring, reasons, training, metrics and drift."""
