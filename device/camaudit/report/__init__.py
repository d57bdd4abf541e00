"""Reports derived from signed records: report.html, report.pdf, captures.csv (issue 13)."""
