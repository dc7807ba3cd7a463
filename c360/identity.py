"""Identity resolution: connected components over the identifier graph, computed in the warehouse."""
