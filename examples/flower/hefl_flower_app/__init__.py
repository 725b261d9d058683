"""The Flower app's components: hefl's ServerApp (computing party) and ClientApp (participant)."""
