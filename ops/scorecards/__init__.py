"""Department performance evaluation (scorecards.md): figures per department and calendar month.

figures.py computes a month from the store (set-based SQL), services.py stores it, selectors.py reads
stored months, exports.py and charts.py shape them for the page (views.py) and the downloads."""
