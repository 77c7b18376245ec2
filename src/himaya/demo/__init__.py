"""The demo evidence set: benign generated photos, copies, archives and a TEST hash set, reproducible."""
