"""The study's sections, one per question; each measures the variants it declared.

Every section has the same two steps: its variants are declared on the study's `Plan` before
any training (`design.declare`, which returns their handles: plain specs, so the check counts
them without torch); `measure(trained, handles, ...)` reads the trained models and returns a
frozen dataclass of numbers (and the figures drawn from them).

    training        steps 1-5: the data, the DeepSet and the MLP over seeds
    invariance      step 6: outputs under permutations of the objects
    sweep           question 7a: how big an MLP matches the DeepSet
    linear_phi      question 7b: phi without a nonlinearity
    sample_efficiency  section 8a: accuracy on arrangements never trained on, against M
    learning_speed  section 8b: steps to a low loss and to 100% accuracy
    set_size        beyond: test on sets of 5..100 objects
    affine_pooling  beyond: which pooling works with an affine phi
    learned_phi     beyond: the learned phi at the data's values
    latent          beyond: the width of phi's output
"""
