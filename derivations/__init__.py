"""SymPy derivations for EE 148a Problem Set 2; see `derivations.core` for the data model."""
