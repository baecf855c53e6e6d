"""SciMult Explorer: navigation and the sidebar every page shares."""
import streamlit as st

from views._shared import sidebar

st.set_page_config(page_title="SciMult Explorer", page_icon=":material/explore:", layout="wide")

PAGES = {
    "Explore": [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/corpora.py", title="Corpora", icon=":material/library_books:", url_path="corpora"),
        st.Page("views/search.py", title="Search", icon=":material/search:", url_path="search"),
        st.Page("views/neighbours.py", title="Neighbours", icon=":material/hub:", url_path="neighbours"),
        st.Page("views/labels.py", title="Labels", icon=":material/label:", url_path="labels"),
        st.Page("views/patients.py", title="Patients", icon=":material/stethoscope:", url_path="patients"),
        st.Page("views/map.py", title="Map", icon=":material/map:", url_path="map"),
        st.Page("views/experts.py", title="Experts", icon=":material/school:", url_path="experts"),
        st.Page("views/evaluate.py", title="Evaluate", icon=":material/fact_check:", url_path="evaluate"),
    ],
    "Build": [
        st.Page("views/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    ],
}

page = st.navigation(PAGES)
sidebar()
page.run()
