"""`tdc-bot demo`: a whole made-up reporting season, replayed offline through the real daemon.

``season`` makes the mail (reports as .docx and PDF, forwards, machine
mail), ``documents`` the report files, ``replay`` runs the days.
"""
from workflow.operations.demo.replay import DemoError, DemoResult, run_demo

__all__ = ["DemoError", "DemoResult", "run_demo"]
