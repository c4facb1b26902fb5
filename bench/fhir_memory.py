"""Peak memory of importing a large FHIR bulk export (issue 13 item 6: ndjson is read line by
line in bounded memory; target: a ~1 GB export imports under 2 GB peak RSS).

    python -m bench.fhir_memory [--gb 1.0] [--dir DIR] [--keep] [--out bench/fhir_results.md]

Generates a bulk-export folder of Synthea-like resources (Patient, ketamine
MedicationAdministration sessions, Observation split into files under the 200 MB per-file
import limit as bulk-data servers split large types, MedicationRequest with dosage, Condition
to skip), then imports it with ``kapoutcomes import`` in a child process and records the
child's peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``) and wall time with the machine
and date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import machine

SPLIT_BYTES = 150 * 1024 * 1024
LOINC = "http://loinc.org"
TZ = "-05:00"


def _obs(pid: str, n: int, code: str, text: str, at: str, value: dict, category: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": f"obs-{n:09d}",
        "meta": {
            "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation"]
        },
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": category,
                        "display": category.replace("-", " ").title(),
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": text}], "text": text},
        "subject": {"reference": f"Patient/{pid}"},
        "encounter": {"reference": f"Encounter/enc-{n // 6:09d}"},
        "effectiveDateTime": at,
        "issued": at.replace(TZ, ".000" + TZ),
        **value,
    }


def _q(v: float, unit: str, code: str) -> dict:
    return {
        "valueQuantity": {
            "value": v,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": code,
        }
    }


class _Writer:
    """ndjson files of one resource type, a new file every SPLIT_BYTES."""

    def __init__(self, folder: Path, kind: str) -> None:
        self.folder, self.kind, self.part, self.size, self.fh = folder, kind, 0, 0, None
        self.total = 0

    def write(self, res: dict) -> None:
        line = (json.dumps(res, separators=(",", ":")) + "\n").encode()
        if self.fh is None or self.size + len(line) > SPLIT_BYTES:
            if self.fh is not None:
                self.fh.close()
            self.part += 1
            self.fh = open(self.folder / f"{self.kind}_{self.part:03d}.ndjson", "wb")  # noqa: SIM115 - kept open across writes, closed by close()
            self.size = 0
        self.fh.write(line)
        self.size += len(line)
        self.total += len(line)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def generate(folder: Path, target_bytes: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    w = {k: _Writer(folder, k) for k in ("Patient", "MedicationAdministration", "Observation",
                                          "MedicationRequest", "Condition")}  # fmt: skip
    counts = dict.fromkeys(w, 0)
    n_obs = 0
    p = 0
    while sum(x.total for x in w.values()) < target_bytes:
        p += 1
        pid = f"pt-{p:07d}"
        w["Patient"].write(
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"use": "official", "family": f"Family{p}", "given": [f"Given{p}"]}],
                "telecom": [{"system": "phone", "value": f"555-01{p % 100:02d}"}],
                "gender": rng.choice(["female", "male"]),
                "birthDate": f"{rng.randint(1940, 2000)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                "address": [
                    {"line": [f"{p} Main St"], "city": "Springfield", "postalCode": "01101"}
                ],
                "managingOrganization": {"display": "Bench Clinic"},
            }
        )
        counts["Patient"] += 1
        w["Condition"].write(
            {
                "resourceType": "Condition",
                "id": f"cond-{p}",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "82423001"}]},
            }
        )
        counts["Condition"] += 1
        w["MedicationRequest"].write(
            {
                "resourceType": "MedicationRequest",
                "id": f"rx-{p}",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [
                        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "835603"}
                    ],
                    "text": "tramadol hydrochloride 50 MG Oral Tablet",
                },
                "subject": {"reference": f"Patient/{pid}"},
                "authoredOn": "2023-01-05",
                "dosageInstruction": [
                    {
                        "timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
                        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
                    }
                ],
            }
        )
        counts["MedicationRequest"] += 1
        day0 = dt.date(2023, 1, 2) + dt.timedelta(days=rng.randint(0, 300))
        for s in range(30):
            day = day0 + dt.timedelta(days=3 * s)
            start = f"{day.isoformat()}T09:30:00{TZ}"
            w["MedicationAdministration"].write(
                {
                    "resourceType": "MedicationAdministration",
                    "id": f"ma-{p}-{s}",
                    "status": "completed",
                    "extension": [
                        {"url": "urn:kapoutcomes:fhir:session-type", "valueCode": "induction" if s < 6 else "maintenance"},
                        {"url": "urn:kapoutcomes:fhir:care-model", "valueCode": "infusion_only"},
                    ],
                    "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6130"}]},
                    "subject": {"reference": f"Patient/{pid}"},
                    "effectivePeriod": {"start": start, "end": f"{day.isoformat()}T10:10:00{TZ}"},
                    "dosage": {"route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]}, "dose": {"value": 35, "unit": "mg"}},
                }
            )  # fmt: skip
            counts["MedicationAdministration"] += 1
            before = f"{day.isoformat()}T09:31:00{TZ}"
            after = f"{day.isoformat()}T10:20:00{TZ}"
            bp = {
                "component": [
                    {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]}, **_q(rng.randint(110, 150), "mm[Hg]", "mm[Hg]")},
                    {"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]}, **_q(rng.randint(65, 95), "mm[Hg]", "mm[Hg]")},
                ]
            }  # fmt: skip
            rows = [
                ("85354-9", "Blood pressure panel with all children optional", before, bp, "vital-signs"),
                ("85354-9", "Blood pressure panel with all children optional", after, bp, "vital-signs"),
                ("8867-4", "Heart rate", before, _q(rng.randint(60, 95), "/min", "/min"), "vital-signs"),
                ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", before, _q(rng.randint(94, 100), "%", "%"), "vital-signs"),
                ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported", before, _q(rng.randint(2, 9), "{score}", "{score}"), "survey"),
                ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported", after, _q(rng.randint(0, 7), "{score}", "{score}"), "survey"),
                ("39156-5", "Body mass index (BMI) [Ratio]", before, _q(round(rng.uniform(19, 35), 1), "kg/m2", "kg/m2"), "vital-signs"),
            ]  # fmt: skip
            if s % 6 == 0:
                rows.append(("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]", before, _q(rng.randint(3, 22), "{score}", "{score}"), "survey"))  # fmt: skip
            for code, text, at, value, cat in rows:
                n_obs += 1
                w["Observation"].write(_obs(pid, n_obs, code, text, at, value, cat))
                counts["Observation"] += 1
    for x in w.values():
        x.close()
    return counts


def _import(folder: Path, store: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "kapoutcomes.cli", "import", str(folder), "--store", str(store), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rep = json.loads(proc.stdout)
    return {"seconds": wall, "peak_mib": peak_kib / 1024, "report": rep}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "fhir_results.md")
    a = ap.parse_args(argv)
    folder = a.dir or Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    try:
        t0 = time.perf_counter()
        counts = generate(folder / "export", int(a.gb * 1024**3))
        gen_s = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (folder / "export").iterdir())
        m = machine()
        got = _import(folder / "export", folder / "bench.duckdb")
        files = got["report"]["files"]
        totals = {
            k: sum(f[k] for f in files) for k in ("rows_read", "accepted", "quarantined", "skipped")
        }
        _record(a.out, m, size, counts, gen_s, got, totals, len(files))
        print(a.out.read_text())
    finally:
        if not a.keep:
            shutil.rmtree(folder, ignore_errors=True)


def _record(
    out: Path, m: dict, size: int, counts: dict, gen_s: float, got: dict, totals: dict, n_files: int
) -> None:
    target = 2048
    status = "**met**" if got["peak_mib"] < target else "**MISSED**"
    lines = [
        "# FHIR bulk-export import: peak memory",
        "",
        f"Recorded {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.fhir_memory` "
        f"(export generated in {gen_s:.0f} s).",
        "",
        f"**Machine:** {m['cores']} cores ({m['usable_cores']} usable), {m['memory_gib']} GiB, "
        f"{m['cpu']}; {m['platform']}. Load average at the start {m['load_average']} (other "
        "helpers were working on the same machine).",
        "",
        "| target | measured | status |",
        "|---|---|---|",
        f"| ~1 GB bulk ndjson export imports under 2 GB peak RSS | {got['peak_mib']:,.0f} MiB peak "
        f"for {size / 1024**3:.2f} GiB in {n_files} files, {got['seconds']:.0f} s | {status} |",
        "",
        "| resources | " + " | ".join(counts) + " |",
        "|---|" + "---|" * len(counts),
        "| count | " + " | ".join(f"{v:,}" for v in counts.values()) + " |",
        "",
        f"Accounting: read {totals['rows_read']:,} = accepted {totals['accepted']:,} + quarantined "
        f"{totals['quarantined']:,} + skipped {totals['skipped']:,}.",
        "",
        "Peak RSS is the `kapoutcomes import` child process's (`getrusage(RUSAGE_CHILDREN)`), "
        "the whole command: reading, resolving, de-duplicating and the one-transaction write.",
        "",
    ]
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
