"""Identity: Keystone v3 subset (domains, projects, users, roles, assignments, tokens)."""
