"""Reports: steering group, evaluation and funder statistics (HTML, PDF, XLSX)."""
