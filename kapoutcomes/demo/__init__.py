"""The seeded synthetic demo cohort and its messy EHR-style exports."""
