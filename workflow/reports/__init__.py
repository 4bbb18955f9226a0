"""What coordinators take home: the compiled national report, exports and chart data."""
