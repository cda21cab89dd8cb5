"""Records in, files out: the tables (md, csv, tex, html), figures, report.html, the
classic-vs-deep verdict, learning-curve, robustness and tuning tables. Trains nothing."""
