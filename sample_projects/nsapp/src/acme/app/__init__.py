"""The acme.app part of the acme namespace package."""
