"""The study's sections, one per question. Each section's variants are declared on the study's
`Plan` before any training (`plan.declare`); its `measure(trained, handles, ...)` reads the
trained models and returns a frozen dataclass of numbers (and the figures drawn from them).

    training           steps 1-5: the data, the DeepSet and the MLP over seeds
    invariance         step 6: outputs under permutations of the objects
    sweep              question 7a: how big an MLP matches the DeepSet
    linear_phi         question 7b: phi without a nonlinearity
    sample_efficiency  8a: accuracy on arrangements never trained on, against M
    learning_speed     8b: steps to a low loss and to 100% accuracy
    set_size, affine_pooling, learned_phi, latent   beyond the exercise
"""
