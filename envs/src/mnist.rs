//! MNIST
