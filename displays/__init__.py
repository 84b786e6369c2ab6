"""Lobby displays: what a display shows and says when a ticket is called."""
