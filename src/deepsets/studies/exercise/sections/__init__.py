"""The study's sections, one per question. Each section's variants are declared on the study's
`Plan` before any training (`plan.declare`); its `measure...(trained, ...)` reads the trained
models and returns a frozen dataclass of numbers (and the figures drawn from them).

    steps       steps 1-5: the data, the DeepSet and the MLP over seeds; step 6: invariance
    sweep       question 7a: how big an MLP matches the DeepSet
    linear_phi  question 7b: phi without a nonlinearity
    symmetry    8a: accuracy on arrangements never trained on, against M; 8b: steps to a low
                loss and to 100% accuracy
    beyond      set sizes, affine pooling, learned phi, latent width: beyond the exercise
"""
