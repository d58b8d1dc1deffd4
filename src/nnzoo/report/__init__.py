"""Reports: Markdown tables and documents, and PNG plots of training curves and confusions."""

from nnzoo.report.markdown import (
    classification_table,
    confusion_table,
    table,
    write_atomic,
    write_report,
)
from nnzoo.report.plots import plot_compare, plot_confusion, plot_curves

__all__ = [
    "classification_table",
    "confusion_table",
    "plot_compare",
    "plot_confusion",
    "plot_curves",
    "table",
    "write_atomic",
    "write_report",
]
