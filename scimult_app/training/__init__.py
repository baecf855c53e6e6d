"""Stage 4: training pairs, the multi-task contrastive trainer, dense to MoE, export, held-out evaluation."""
