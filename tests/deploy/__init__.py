"""Tests of the deployment files: docker-compose.yml, docker/Dockerfile, .dockerignore and the scripts they share."""
