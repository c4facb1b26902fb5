"""One patient: dosing, response rules, change from baseline, induction, episodes, opioid course, maintenance review."""
