"""Security proofs for issue #10 (§3–§5): one test per finding, each showing the attack and that it now fails safely."""
