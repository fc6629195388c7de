"""dvc.yaml read natively: discovery, vars, ``${}`` interpolation, foreach/matrix, DVC naming."""
