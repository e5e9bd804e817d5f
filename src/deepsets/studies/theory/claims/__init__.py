"""The five claims, one module each: `measure(settings) -> (Claim, Figure)`."""
