"""Synthetic identities for the messy exports: names, dates of birth, phones, addresses and
SSNs that are obviously fake (555-01xx phones, 9xx SSNs, 00000-range ZIP codes) and exist only
to test de-identification."""

from __future__ import annotations

import numpy as np
import polars as pl

from kapoutcomes.demo.sample import SampleCohort

FIRST_F = (
    "Zoë", "Renée", "Chloé", "María", "Sofía", "Inés", "Mónica", "Noémie", "Jennifer",
    "Patricia", "Linda", "Susan", "Karen", "Nancy", "Emily", "Olivia", "Grace", "Hannah",
    "Lucía", "Ana", "Beatriz", "Amélie",
)  # fmt: skip
FIRST_M = (
    "José", "François", "André", "Jürgen", "Søren", "Ramón", "Héctor", "Raúl", "James",
    "Robert", "Michael", "David", "William", "Thomas", "Daniel", "Matthew", "Andrew",
    "Kevin", "Luis", "Björn", "Joël",
)  # fmt: skip
LAST = (
    "García", "Martínez", "Müller", "O'Brien", "Nguyen", "Smith", "Johnson", "Williams",
    "Brown", "Jones", "Miller", "Davis", "Rodríguez", "Hernández", "López", "González",
    "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Lee", "Pérez", "Thompson",
    "White", "Sánchez", "Clark", "Walker", "Young", "King", "Wright", "Núñez", "Peña",
    "Dubois", "Lefèvre", "Kowalski", "Schröder", "Åberg", "Smith-Jones", "Østergaard",
)  # fmt: skip
STREETS = ("Maple", "Oak", "Elm", "Cedar", "Pine", "Birch", "Willow", "Lakeview", "Hillcrest")
STREET_KINDS = ("St", "Ave", "Rd", "Ln", "Dr", "Ct")
PLACES = (  # fictional addresses in real states; ZIP codes are 00000-range fakes
    ("Springfield", "IL", "Illinois", "Sangamon County", "17167"),
    ("Riverton", "IL", "Illinois", "Cook County", "17031"),
    ("Lakeview", "MI", "Michigan", "Wayne County", "26163"),
    ("Fairview", "OH", "Ohio", "Franklin County", "39049"),
    ("Greenville", "MA", "Massachusetts", "Hampden County", "25013"),
)


def identities(cohort: SampleCohort) -> pl.DataFrame:
    """One fake identity per patient (name, DOB, phone, address, SSN), keyed by patient_id."""
    truth = cohort.truth.sort("mrn")
    n = truth.height
    rng = np.random.default_rng([cohort.seed, 2])
    sex = cohort.tables["patients"].join(truth.select("patient_id", "mrn"), on="patient_id")
    sex = sex.sort("mrn").get_column("sex").to_numpy()
    first = np.where(
        sex == "male",
        np.asarray(FIRST_M, dtype=object)[rng.integers(0, len(FIRST_M), n)],
        np.asarray(FIRST_F, dtype=object)[rng.integers(0, len(FIRST_F), n)],
    )
    last = np.asarray(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    place = rng.integers(0, len(PLACES), n)
    number = rng.integers(10, 9999, n)
    street = rng.integers(0, len(STREETS), n)
    kind = rng.integers(0, len(STREET_KINDS), n)
    return pl.DataFrame(
        {
            "patient_id": truth["patient_id"],
            "mrn": truth["mrn"],
            "birth_date": truth["birth_date"],
            "sex": sex.tolist(),
            "first": first.tolist(),
            "last": last.tolist(),
            # 555-01xx is reserved for fiction; area codes 900-999 are never issued in SSNs.
            "phone": [f"({a}) 555-01{b:02d}" for a, b in zip(rng.integers(201, 990, n), rng.integers(0, 100, n), strict=True)],
            "ssn": [f"9{a:02d}-{b:02d}-{c:04d}" for a, b, c in zip(rng.integers(0, 100, n), rng.integers(10, 100, n), rng.integers(1000, 10000, n), strict=True)],
            "street": [f"{a} {STREETS[b]} {STREET_KINDS[c]}" for a, b, c in zip(number, street, kind, strict=True)],
            "city": [PLACES[i][0] for i in place],
            "state": [PLACES[i][1] for i in place],
            "state_name": [PLACES[i][2] for i in place],
            "county": [PLACES[i][3] for i in place],
            "fips": [PLACES[i][4] for i in place],
            "zip": [f"0{z:04d}" for z in rng.integers(1000, 9999, n)],
        }
    )  # fmt: skip
