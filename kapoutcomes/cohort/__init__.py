"""Populations and cohort sections: filters, per-patient metrics, summary, durability, attrition, response, safety, completeness."""
