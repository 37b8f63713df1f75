"""The OpenAPI page's examples make a working flow: the /krr/fit examples fit as they are, and the
model id of the other /krr examples is a placeholder that says to paste the id a fit answered."""

from __future__ import annotations

from service.api.schemas import MODEL_ID_PLACEHOLDER


def body_example(spec: dict, path: str) -> list[dict]:
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["examples"]


def says_to_fit_first_and_paste_the_id(text: str) -> bool:
    return "/krr/fit" in text and "paste" in text and MODEL_ID_PLACEHOLDER in text and "404" in text


def test_the_model_id_examples_say_to_fit_first_and_paste_the_id(client):
    spec = client.get("/openapi.json").json()
    predict = spec["components"]["schemas"]["PredictRequest"]
    assert [e["model_id"] for e in predict["examples"]] == [MODEL_ID_PLACEHOLDER]
    assert says_to_fit_first_and_paste_the_id(predict["properties"]["model_id"]["description"])
    for method in ("get", "delete"):
        (param,) = spec["paths"]["/krr/models/{model_id}"][method]["parameters"]
        assert param["schema"]["examples"] == [MODEL_ID_PLACEHOLDER]
        assert says_to_fit_first_and_paste_the_id(param["description"])


def test_the_examples_work_when_the_fitted_id_is_pasted_in(client):
    spec = client.get("/openapi.json").json()
    (predict,) = body_example(spec, "/krr/predict")
    fits = body_example(spec, "/krr/fit")
    assert len(fits) == 2
    for fit in fits:
        fitted = client.post("/krr/fit", json=fit)
        assert fitted.status_code == 200, fitted.text
        model_id = fitted.json()["model_id"]
        answer = client.post("/krr/predict", json={**predict, "model_id": model_id})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == len(predict["X"])
        assert client.get(f"/krr/models/{model_id}").status_code == 200
        assert client.delete(f"/krr/models/{model_id}").status_code == 200


def test_the_placeholder_as_it_stands_answers_a_404_that_names_it(client):
    spec = client.get("/openapi.json").json()
    (predict,) = body_example(spec, "/krr/predict")
    for answer in (client.post("/krr/predict", json=predict), client.get(f"/krr/models/{MODEL_ID_PLACEHOLDER}")):
        assert answer.status_code == 404 and MODEL_ID_PLACEHOLDER in answer.json()["detail"]
