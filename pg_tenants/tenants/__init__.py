"""The tenant list: files → entries (model) → rules → placement, validated once at the edge."""
