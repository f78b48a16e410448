# Writes the tiny .npy fixtures of tests/cpu/test_npy.cpp into tests/data/npy/ with NumPy's own
# writer, so the C++ reader is tested against files it did not write. Run from the repository root:
#   /usr/bin/python3 tests/reference/make_npy_fixtures.py
# (Debian's interpreter with python3-numpy; the values below are spelled out in the test.)
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "npy")
os.makedirs(OUT, exist_ok=True)


def save(name, a, version=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        if version is None:
            np.lib.format.write_array(f, a)  # what np.save writes (version 1.0)
        else:
            np.lib.format.write_array(f, a, version=version)


# Readable: one per supported dtype, plus a 0-d, an empty and a version 2.0 file.
save("f4_2x3.npy", np.array([[0.5, -1.25, 3.0], [1e-3, 7.0, -0.0]], dtype="<f4"))
save("f8_scalar.npy", np.array(3.141592653589793, dtype="<f8"))
save("i8_5.npy", np.array([0, -1, 2**40, -(2**62), 7], dtype="<i8"))
save("u1_2x2x3.npy", np.arange(250, 262, dtype=np.int64).astype(np.uint8).reshape(2, 2, 3))
save("f4_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("f8_v2_3x1x2.npy", np.arange(6, dtype="<f8").reshape(3, 1, 2) / 4.0, version=(2, 0))
# Rejected: Fortran order, big-endian, an unsupported dtype, six dimensions (raw reader only).
save("f8_fortran_2x3.npy", np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)))
save("f4_bigendian_3.npy", np.array([1, 2, 3], dtype=">f4"))
save("i4_3.npy", np.array([1, 2, 3], dtype="<i4"))
save("f4_6d.npy", np.arange(64, dtype="<f4").reshape(2, 2, 2, 2, 2, 2))
print("wrote", sorted(os.listdir(OUT)))
