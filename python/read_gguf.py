"""Reads a GGUF file with llama.cpp's own `gguf` package and prints what it found as JSON:
every metadata entry (arrays as lists),
and per tensor its name, shape as gguf-py reports it, type name and, for --values, the
dequantised values (so a test can compare them with what the writer meant)."""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGUFValueType
from gguf.quants import dequantize


def field_value(field):
    types = field.types
    if types[0] == GGUFValueType.ARRAY:
        return [field.contents(i) for i in range(len(field.data))]
    return field.contents()


def main():
    path = sys.argv[1]
    want_values = "--values" in sys.argv
    reader = GGUFReader(path)
    metadata = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        metadata[name] = field_value(field)
    tensors = []
    for t in reader.tensors:
        entry = {
            "name": t.name,
            "shape": [int(x) for x in t.shape],
            "type": t.tensor_type.name,
            "n_elements": int(t.n_elements),
            "offset": int(t.data_offset),
        }
        if want_values:
            values = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            entry["values"] = [float(v) for v in values]
        tensors.append(entry)
    json.dump({"version": int(reader.fields["GGUF.version"].contents()), "alignment": int(reader.alignment), "metadata": metadata, "tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    main()
