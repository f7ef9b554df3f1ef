"""Studies that hold the infinite-width theory against finite networks."""
