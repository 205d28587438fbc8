"""The rows both servers get: one fixed, seeded set, written once per run as
JSON rows, column-oriented JSON and CSV (for R's own timing)."""

import dataclasses
import random

import orjson

CYL_LEVELS = ("4", "6", "8")


@dataclasses.dataclass(frozen=True)
class Workload:
    rows: list  # [{"wt": float, "hp": int, "cyl": str}]

    @classmethod
    def make(cls, n, seed=1):
        rng = random.Random(seed)
        rows = [{"wt": round(rng.uniform(1.5, 5.5), 3), "hp": rng.randint(52, 335),
                 "cyl": rng.choice(CYL_LEVELS)} for _ in range(n)]
        return cls(rows)

    @property
    def single(self):
        """The single-row request body (the first row)."""
        return orjson.dumps(self.rows[:1])

    def head(self, n):
        return orjson.dumps(self.rows[:n])

    def json_rows(self):
        return orjson.dumps(self.rows)

    def json_columns(self):
        """{"data": {column: [values]}}: read by both servers' column paths."""
        return orjson.dumps({"data": {name: [row[name] for row in self.rows]
                                      for name in ("wt", "hp", "cyl")}})

    def write_csv(self, path):
        with open(path, "w") as out:
            out.write("wt,hp,cyl\n")
            for row in self.rows:
                out.write(f"{row['wt']!r},{row['hp']},{row['cyl']}\n")
        return path
