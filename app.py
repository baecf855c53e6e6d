"""SciMult Explorer: navigation and the sidebar every page shares."""
import streamlit as st

from pages._shared import sidebar

st.set_page_config(page_title="SciMult Explorer", page_icon="🧭", layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/home.py", title="Home", icon="🧭", default=True),
        st.Page("pages/corpora.py", title="Corpora", icon="📚", url_path="corpora"),
        st.Page("pages/search.py", title="Search", icon="🔎", url_path="search"),
        st.Page("pages/neighbours.py", title="Neighbours", icon="🕸️", url_path="neighbours"),
        st.Page("pages/labels.py", title="Labels", icon="🏷️", url_path="labels"),
        st.Page("pages/patients.py", title="Patients", icon="🩺", url_path="patients"),
        st.Page("pages/map.py", title="Map", icon="🗺️", url_path="map"),
        st.Page("pages/experts.py", title="Experts", icon="🎓", url_path="experts"),
    ],
}

page = st.navigation(PAGES)
sidebar()
page.run()
