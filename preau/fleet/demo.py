"""The demo fleet (filled in by the demo builder; see preau.core.demo)."""
