"""Test doubles that ship with cinelake, so its users can test against them too."""
