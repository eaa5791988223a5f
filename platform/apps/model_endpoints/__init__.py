"""Model endpoints: upstream models a platform admin registers and grants to workspaces."""
