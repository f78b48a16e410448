"""Writes tests/data/npz/savez_small.npz with numpy's own np.savez (stored members), which the C++
reader must read: arr_0 uint8 [2, 3, 4, 1] = arange, and mu float64 [3].
Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_npz_fixture.py"""
import os
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "data", "npz", "savez_small.npz")
np.savez(out, np.arange(24, dtype=np.uint8).reshape(2, 3, 4, 1), mu=np.array([0.5, -1.25, 3.0]))
print("wrote", os.path.normpath(out))
