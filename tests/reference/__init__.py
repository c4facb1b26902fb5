"""Independent implementations the library is checked against (plain Python, one obvious loop
per patient, no shared code with the library beyond the Settings it reads)."""
