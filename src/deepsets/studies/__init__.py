"""The studies, as peers: exercise/, digits/, theory/, each built the same way."""
