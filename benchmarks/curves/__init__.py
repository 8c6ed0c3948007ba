"""The benchmark's curves: one dimension grown at a time, with what should stay flat."""
