"""Policy parameters, rules (one table of rule kinds) and the limit engine."""
